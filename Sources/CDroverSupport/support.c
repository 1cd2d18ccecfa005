#define _GNU_SOURCE
#include "CDroverSupport.h"

#include <pthread.h>
#include <sys/prctl.h>

int drover_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, signal);
}

int drover_current_thread_name(char *buffer, size_t length) {
    return pthread_getname_np(pthread_self(), buffer, length);
}
