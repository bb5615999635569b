#include <cblas.h>

// Not in cblas.h, exported by OpenBLAS's threaded builds (driver/others/blas_server.c): stops
// the helper threads, which OpenBLAS starts again on its next threaded call. After a call, each
// helper keeps spinning for a while before it sleeps, on a core another kernel being timed may
// need; the rate measurements end OpenBLAS's turn with this.
int blas_thread_shutdown_(void);
