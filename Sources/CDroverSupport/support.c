#define _GNU_SOURCE
#include "CDroverSupport.h"

#include <malloc.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/prctl.h>

int drover_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, signal);
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

int drover_spawn_file_actions_add_close_from(void *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
