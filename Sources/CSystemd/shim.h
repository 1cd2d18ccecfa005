#ifndef DROVER_CSYSTEMD_SHIM_H
#define DROVER_CSYSTEMD_SHIM_H
// Without this, sd-journal.h turns sd_journal_sendv into a macro adding this header's own
// CODE_FILE/CODE_LINE; the Swift handler sends the caller's location itself.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <sys/uio.h>
#endif
