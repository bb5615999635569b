// A pool of worker threads for ke's parallel loops, with a short spin before sleeping.
//
// libdispatch puts its workers to sleep between calls, so handing a matrix product to a second
// core costs a wake-up (tens of microseconds on a VM) at every call and every barrier. Here the
// helpers spin for a bounded time (`KE_SPIN_US`, default 100 µs) after each task, watching a
// generation counter, and only then block on a condition variable; the caller always runs
// worker 0 itself. See CKernels.h.

#define _GNU_SOURCE
#include "CKernels.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KE_PAUSE() _mm_pause()
#else
#define KE_PAUSE() ((void)0)
#endif

#define KE_POOL_MAX 64

static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;   // one ke_pool_run at a time
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t spin_once = PTHREAD_ONCE_INIT;

static long helpers = 0;                 // threads started (guarded by run_lock)
static _Atomic long generation = 0;      // one increment per ke_pool_run
static _Atomic long acknowledged = 0;    // helpers done with the current generation
static _Atomic long sleepers = 0;
static long spin_ns = 100000;
// The current task: written before `generation` is incremented (release), read after it is seen.
static ke_pool_task task_fn;
static void *task_ctx;
static long task_workers;
// Barrier among the current task's workers (sense by generation).
static _Atomic long barrier_count = 0;
static _Atomic long barrier_generation = 0;

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

static void read_spin(void) {
    const char *v = getenv("KE_SPIN_US");
    if (v) {
        long us = atol(v);
        if (us >= 0 && us <= 1000000) spin_ns = us * 1000;
    }
}

/// Waits until *x != seen: spins `spin_ns`, then yields the core between checks.
static void wait_change(_Atomic long *x, long seen) {
    long start = 0;
    for (long i = 1;; i++) {
        if (atomic_load_explicit(x, memory_order_acquire) != seen) return;
        KE_PAUSE();
        if ((i & 255) == 0) {
            long t = now_ns();
            if (start == 0) start = t;
            else if (t - start > spin_ns) sched_yield();
        }
    }
}

struct helper_start { long id, seen; };

static void *helper_main(void *arg) {
    struct helper_start *h = arg;
    long id = h->id, seen = h->seen;
    free(h);
    for (;;) {
        // Spin for a while, then sleep until the next generation.
        long start = now_ns();
        long i = 0;
        while (atomic_load_explicit(&generation, memory_order_acquire) == seen) {
            KE_PAUSE();
            if ((++i & 255) == 0 && now_ns() - start > spin_ns) {
                pthread_mutex_lock(&sleep_lock);
                atomic_fetch_add(&sleepers, 1);
                while (atomic_load(&generation) == seen) pthread_cond_wait(&sleep_cond, &sleep_lock);
                atomic_fetch_sub(&sleepers, 1);
                pthread_mutex_unlock(&sleep_lock);
                break;
            }
        }
        seen = atomic_load_explicit(&generation, memory_order_acquire);
        if (id < task_workers) task_fn(task_ctx, id, task_workers);
        atomic_fetch_add_explicit(&acknowledged, 1, memory_order_release);
    }
    return NULL;
}

int ke_pool_run(long workers, ke_pool_task fn, void *ctx) {
    if (workers <= 1) { fn(ctx, 0, 1); return 1; }
    if (workers > KE_POOL_MAX) return 0;
    if (pthread_mutex_trylock(&run_lock) != 0) return 0;   // busy, or called from inside a task
    pthread_once(&spin_once, read_spin);
    while (helpers < workers - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 8 << 20);
        // The helper waits for the generation after the current one (this call's), however late
        // it starts.
        struct helper_start *h = malloc(sizeof *h);
        if (!h) { pthread_attr_destroy(&attr); pthread_mutex_unlock(&run_lock); return 0; }
        h->id = helpers + 1;
        h->seen = atomic_load(&generation);
        int failed = pthread_create(&t, &attr, helper_main, h);
        pthread_attr_destroy(&attr);
        if (failed) { free(h); pthread_mutex_unlock(&run_lock); return 0; }
        helpers++;
    }
    task_fn = fn;
    task_ctx = ctx;
    task_workers = workers;
    atomic_store(&barrier_count, 0);
    atomic_store(&acknowledged, 0);
    atomic_fetch_add(&generation, 1);
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&sleep_cond);
        pthread_mutex_unlock(&sleep_lock);
    }
    fn(ctx, 0, workers);
    // Every helper acknowledges every generation, so none is still reading this task afterwards.
    long start = 0;
    for (long i = 1; atomic_load_explicit(&acknowledged, memory_order_acquire) < helpers; i++) {
        KE_PAUSE();
        if ((i & 255) == 0) {
            long t = now_ns();
            if (start == 0) start = t;
            else if (t - start > spin_ns) sched_yield();
        }
    }
    pthread_mutex_unlock(&run_lock);
    return 1;
}

void ke_pool_barrier(long workers) {
    if (workers <= 1) return;
    long g = atomic_load(&barrier_generation);
    if (atomic_fetch_add(&barrier_count, 1) == workers - 1) {
        atomic_store(&barrier_count, 0);
        atomic_fetch_add(&barrier_generation, 1);
        return;
    }
    wait_change(&barrier_generation, g);
}
