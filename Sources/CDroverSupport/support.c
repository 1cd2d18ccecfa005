#define _GNU_SOURCE
#include "CDroverSupport.h"

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/prctl.h>

/* A process started to end with its parent asks the kernel for a signal on its parent's death
 * here, on the main thread, before any Swift code runs: a task process of the processes
 * scheduler (DROVER_TASK_PROCESS_FD) SIGKILL, so that it dies even in the middle of a task; a
 * local cluster's scheduler and nanny, or a nanny's worker (DROVER_EXIT_WITH_PARENT), SIGTERM,
 * so that it winds down. The kernel keeps the request per thread and sends the signal only if the
 * thread that made it is still alive: made from a thread of Swift's pool (where `Drover` code runs
 * after an await, as until stop 22), it was lost once that thread, idle, ended, and a nanny
 * outlived the process that started it. The main thread lives as long as the process. */
__attribute__((constructor)) static void drover_parent_death_signal_on_the_main_thread(void) {
    if (getenv("DROVER_TASK_PROCESS_FD") != NULL) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    } else if (getenv("DROVER_EXIT_WITH_PARENT") != NULL) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
    }
}

int drover_current_thread_name(char *buffer, size_t length) {
    return pthread_getname_np(pthread_self(), buffer, length);
}

int drover_set_current_thread_name(const char *name) {
    char truncated[16];
    size_t length = 0;
    while (name[length] != 0 && length < 15) {
        truncated[length] = name[length];
        length++;
    }
    truncated[length] = 0;
    return pthread_setname_np(pthread_self(), truncated);
}

int drover_release_free_memory(void) {
    return malloc_trim(0);
}

size_t drover_heap_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

int drover_spawn_file_actions_add_close_from(void *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

// MARK: - Shared memory between workers of one host

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

int drover_memfd_create(const char *name) {
    return memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

static const int drover_seals = F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW;

int drover_memfd_seal(int fd) {
    return fcntl(fd, F_ADD_SEALS, drover_seals | F_SEAL_SEAL);
}

int drover_memfd_is_sealed(int fd) {
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0) return -1;
    return (seals & drover_seals) == drover_seals ? 1 : 0;
}

static socklen_t drover_abstract_address(const char *name, struct sockaddr_un *address) {
    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    size_t length = strlen(name);
    if (length + 1 > sizeof(address->sun_path)) {
        errno = ENAMETOOLONG;
        return 0;
    }
    // A leading NUL puts the name in the abstract namespace.
    memcpy(address->sun_path + 1, name, length);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + length);
}

int drover_unix_listen(const char *name) {
    struct sockaddr_un address;
    socklen_t length = drover_abstract_address(name, &address);
    if (length == 0) return -1;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&address, length) != 0 || listen(fd, 64) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int drover_accept(int socket) {
    return accept4(socket, NULL, NULL, SOCK_CLOEXEC);
}

int drover_allocate(int fd, long length) {
    return fallocate(fd, 0, 0, (off_t)length);
}

int drover_socket_timeout(int socket, int timeout_ms) {
    struct timeval timeout = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    if (setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0) return -1;
    return setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
}

int drover_unix_connect(const char *name, int timeout_ms) {
    struct sockaddr_un address;
    socklen_t length = drover_abstract_address(name, &address);
    if (length == 0) return -1;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (drover_socket_timeout(fd, timeout_ms) != 0 || connect(fd, (struct sockaddr *)&address, length) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int drover_peer_credentials(int socket, unsigned int *uid, int *pid) {
    struct ucred credentials;
    socklen_t length = sizeof(credentials);
    if (getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    *uid = credentials.uid;
    *pid = credentials.pid;
    return 0;
}

long drover_send_with_descriptor(int socket, const void *bytes, size_t length, int fd) {
    struct iovec vector = {.iov_base = (void *)bytes, .iov_len = length};
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&control, 0, sizeof(control));
        message.msg_control = control.buffer;
        message.msg_controllen = sizeof(control.buffer);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(header), &fd, sizeof(int));
    }
    return sendmsg(socket, &message, MSG_NOSIGNAL);
}

long drover_receive_with_descriptor(int socket, void *bytes, size_t length, int *fd) {
    *fd = -1;
    struct iovec vector = {.iov_base = bytes, .iov_len = length};
    union {
        char buffer[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr message = {
        .msg_iov = &vector, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof(control.buffer)};
    long received = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    if (received < 0) return -1;
    int truncated = (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t index = 0; index < count; index++) {
            int received_fd;
            memcpy(&received_fd, CMSG_DATA(header) + index * sizeof(int), sizeof(int));
            // Keep the first descriptor only; a peer sending more gets them closed.
            if (*fd < 0 && !truncated) {
                *fd = received_fd;
            } else {
                close(received_fd);
            }
        }
    }
    if (truncated) {
        if (*fd >= 0) close(*fd);
        *fd = -1;
        errno = EMSGSIZE;
        return -1;
    }
    return received;
}
