#ifndef TOKENSERVICE_PIPELINE_SUPPORT_H
#define TOKENSERVICE_PIPELINE_SUPPORT_H
#include <stdint.h>
#include <sys/types.h>

/// Starts `path argv...` with stdin, stdout and fd 3 taken from the given descriptors, every other
/// descriptor above 3 closed, an empty signal mask and default signal dispositions.
/// Returns 0 and sets *pid, or an errno value.
int ts_spawn_worker(const char *path, char *const argv[], int stdin_fd, int stdout_fd, int progress_fd, pid_t *pid);

/// Sequentially consistent 64-bit load/store on memory shared with a worker process.
static inline void ts_atomic_store64(volatile int64_t *p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
static inline int64_t ts_atomic_load64(volatile int64_t *p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }

/// CLOCK_MONOTONIC in nanoseconds (the same clock in supervisor and worker).
int64_t ts_monotonic_ns(void);

/// An anonymous shared-memory file of `size` bytes (memfd), or -1.
int ts_shared_memory_fd(size_t size);

/// Resident set size of process `pid` in bytes (from /proc/PID/statm), or -1.
int64_t ts_resident_bytes(pid_t pid);

/// Nanoseconds process `pid`'s main thread has spent on a CPU (from /proc/PID/schedstat), or -1.
int64_t ts_main_thread_cpu_ns(pid_t pid);

/// pipe2(O_CLOEXEC): both ends close on exec (the spawn dup2s the ones a worker needs).
int ts_pipe_cloexec(int fds[2]);
/// Starts a thread that ends this process (_exit) as soon as its parent is gone, checked every 100 ms:
/// a worker stuck in JavaScript never reads the end of its input, and must not outlive a dead service.
/// Returns 0, or -1 when the thread cannot start.
int ts_exit_with_parent(void);

/// Waits until `fd` is readable (or hung up): 1, or 0 when `timeout_ms` (-1: none) passed first.
int ts_wait_readable(int fd, int timeout_ms);
#endif
