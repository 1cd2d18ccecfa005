// Linux calls that Swift's Glibc module does not expose (they need _GNU_SOURCE).
#ifndef C_DROVER_SUPPORT_H
#define C_DROVER_SUPPORT_H

#include <stddef.h>

/// pthread_getname_np for the calling thread.
int drover_current_thread_name(char *buffer, size_t length);

/// pthread_setname_np for the calling thread (Linux keeps at most 15 bytes).
int drover_set_current_thread_name(const char *name);

/// malloc_trim(0): gives memory malloc holds free back to the kernel; 1 if any was released.
int drover_release_free_memory(void);

/// mallinfo2(): the bytes malloc has handed out and not had back (`uordblks`, small blocks, plus
/// `hblkhd`, blocks mapped on their own).
size_t drover_heap_in_use(void);

/// posix_spawn_file_actions_addclosefrom_np: the child closes every descriptor from `from` up.
/// `actions` is a `posix_spawn_file_actions_t *` (untyped here, so that this header does not bring
/// <spawn.h>'s types into Swift under this module's name).
int drover_spawn_file_actions_add_close_from(void *actions, int from);

// MARK: - Shared memory between workers of one host

/// memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING): an anonymous file in memory; -1 and errno on failure.
int drover_memfd_create(const char *name);

/// Seals a memfd against writes, shrinking, growing and further seals; 0, or -1 and errno.
int drover_memfd_seal(int fd);

/// 1 when `fd` carries the seals of ``drover_memfd_seal`` (no write, shrink or grow), 0 when not, -1 on error.
int drover_memfd_is_sealed(int fd);

/// A listening SOCK_SEQPACKET Unix socket at the abstract address `name` (no file; the name lives
/// in this network namespace only); -1 and errno on failure.
int drover_unix_listen(const char *name);

/// Connects to the abstract Unix address `name`, with send and receive timeouts of `timeout_ms`;
/// -1 and errno on failure.
int drover_unix_connect(const char *name, int timeout_ms);

/// accept4(socket, NULL, NULL, SOCK_CLOEXEC): the next connection; -1 and errno.
int drover_accept(int socket);

/// fallocate(fd, 0, 0, length): allocates a file's pages up front; 0, or -1 and errno.
int drover_allocate(int fd, long length);

/// Sets the send and receive timeouts of a socket; 0, or -1 and errno.
int drover_socket_timeout(int socket, int timeout_ms);

/// The user and process id of the peer of a connected Unix socket (SO_PEERCRED); 0, or -1 and errno.
int drover_peer_credentials(int socket, unsigned int *uid, int *pid);

/// Sends `length` bytes and, when `fd` >= 0, the descriptor `fd` (SCM_RIGHTS); what sendmsg returns.
long drover_send_with_descriptor(int socket, const void *bytes, size_t length, int fd);

/// Receives at most `length` bytes and at most one descriptor into `*fd` (-1 when none; any other
/// descriptors are closed, and a truncated message is an error: -1 with EMSGSIZE); what recvmsg returns.
long drover_receive_with_descriptor(int socket, void *bytes, size_t length, int *fd);

#endif
