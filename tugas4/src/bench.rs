pub static BENCH: common::cli::Command = common::cli::Command {
    name: "bench",
    about: "",
    args: "",
    flags: &[],
};
pub fn main(_m: common::cli::Matches) -> Result<(), common::error::MainError> {
    Ok(())
}
