// Stopping OpenBLAS's helper threads between rate measurements (`quietOpenBLASThreads`).
//
// blas_thread_shutdown_ is not in cblas.h; OpenBLAS's threaded builds (pthreads and OpenMP)
// export it, and its next threaded call starts the helpers again. It is declared weak, so ke
// still links and runs against a serial OpenBLAS, where there is nothing to stop.

#include "CKernels.h"

extern int blas_thread_shutdown_(void) __attribute__((weak));

int ke_openblas_stop_threads(void) {
    return blas_thread_shutdown_ ? blas_thread_shutdown_() : -1;
}
