#define _GNU_SOURCE
#include "pipeline_support.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int ts_spawn_worker(const char *path, char *const argv[], int stdin_fd, int stdout_fd, int progress_fd, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) { posix_spawn_file_actions_destroy(&actions); return rc; }
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    if ((rc = posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0)) == 0 &&
        (rc = posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1)) == 0 &&
        (rc = posix_spawn_file_actions_adddup2(&actions, progress_fd, 3)) == 0 &&
        (rc = posix_spawn_file_actions_addclosefrom_np(&actions, 4)) == 0 &&
        (rc = posix_spawnattr_setsigmask(&attr, &empty)) == 0 &&
        (rc = posix_spawnattr_setsigdefault(&attr, &all)) == 0 &&
        (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) == 0) {
        rc = posix_spawn(pid, path, &actions, &attr, argv, environ);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

int64_t ts_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int ts_shared_memory_fd(size_t size) {
    int fd = memfd_create("tokenservice-pipeline-progress", MFD_CLOEXEC);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)size) != 0) { close(fd); return -1; }
    return fd;
}

int64_t ts_resident_bytes(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long size = 0, resident = 0;
    int n = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    if (n != 2) return -1;
    return (int64_t)resident * sysconf(_SC_PAGESIZE);
}

int64_t ts_main_thread_cpu_ns(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) return -1;
    long long ns = 0;
    int n = fscanf(f, "%lld", &ns);
    fclose(f);
    return n == 1 && ns >= 0 ? (int64_t)ns : -1;
}

int ts_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int ts_wait_readable(int fd, int timeout_ms) {
    struct pollfd pfd = { fd, POLLIN, 0 };
    int n;
    while ((n = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR) {}
    return n > 0;
}

static void *ts_parent_watch(void *arg) {
    pid_t parent = (pid_t)(intptr_t)arg;
    struct timespec pause = { 0, 100 * 1000 * 1000 };
    for (;;) {
        if (getppid() != parent) _exit(0);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

int ts_exit_with_parent(void) {
    pid_t parent = getppid();  /* may be 1 when the service itself is a container's init */
    pthread_attr_t attr;
    pthread_t thread;
    if (pthread_attr_init(&attr) != 0) return -1;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    int rc = pthread_create(&thread, &attr, ts_parent_watch, (void *)(intptr_t)parent);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}
