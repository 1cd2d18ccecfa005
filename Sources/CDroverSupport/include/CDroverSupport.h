// Linux calls that Swift's Glibc module does not expose (they need _GNU_SOURCE).
#ifndef C_DROVER_SUPPORT_H
#define C_DROVER_SUPPORT_H

#include <stddef.h>

/// prctl(PR_SET_PDEATHSIG, signal): the kernel sends `signal` to this process when its parent dies.
int drover_set_parent_death_signal(int signal);

/// pthread_getname_np for the calling thread.
int drover_current_thread_name(char *buffer, size_t length);

/// pthread_setname_np for the calling thread (Linux keeps at most 15 bytes).
int drover_set_current_thread_name(const char *name);

/// malloc_trim(0): gives memory malloc holds free back to the kernel; 1 if any was released.
int drover_release_free_memory(void);

/// posix_spawn_file_actions_addclosefrom_np: the child closes every descriptor from `from` up.
/// `actions` is a `posix_spawn_file_actions_t *` (untyped here, so that this header does not bring
/// <spawn.h>'s types into Swift under this module's name).
int drover_spawn_file_actions_add_close_from(void *actions, int from);

#endif
