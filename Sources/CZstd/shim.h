// libzstd from Debian (libzstd-dev), found with pkg-config. zdict.h has the dictionary trainer.
#include <zstd.h>
#include <zdict.h>
