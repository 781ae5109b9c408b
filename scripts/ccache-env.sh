# Sourced by scripts/dev.sh and scripts/test.sh: ccache settings under which every clone of
# the repository on this machine (a CI checkout in another folder too) shares one cache.
# Paths inside the tree are hashed relative to it, and the working directory (only written
# into debug info) is left out of the hash.
export CCACHE_BASEDIR="$PWD"
export CCACHE_NOHASHDIR=1
