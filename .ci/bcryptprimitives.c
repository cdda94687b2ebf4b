/* bcryptprimitives.dll for Wine 8 (Debian 12), which lacks it: Rust's
 * standard library imports ProcessPrng from it (Windows 10 and later), so no
 * Rust program starts under Wine without it. This one fills the buffer
 * through advapi32's SystemFunction036 (RtlGenRandom), which Wine has.
 * Built by .ci/windows.sh with x86_64-w64-mingw32-gcc -shared. */
#include <windows.h>

typedef BOOLEAN(WINAPI *GenRandom)(PVOID, ULONG);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    static GenRandom gen = NULL;
    if (!gen) {
        gen = (GenRandom)GetProcAddress(LoadLibraryA("advapi32.dll"), "SystemFunction036");
    }
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!gen || !gen(data, n)) {
            return FALSE;
        }
        data += n;
        len -= n;
    }
    return TRUE;
}
