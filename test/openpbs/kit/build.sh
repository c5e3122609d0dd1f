#!/bin/bash
# shellcheck disable=SC2015,SC2016,SC2086,SC2116  # word lists split on purpose; `a && b || die` is meant
# build.sh -- build OpenPBS 23.06.06 from the tarball beside this script (or $OPENPBS_SOURCE), apply
# patches/*.patch, install into $PREFIX. Debian 12, as root. Prints each step's time.
#   PREFIX        install prefix (PBS_EXEC)                      default /opt/pbs
#   PBS_HOME_DIR  PBS_HOME compiled in as the default            default /var/spool/$(basename $PREFIX)
#   PBS_CONF      pbs.conf path compiled in (not /etc/pbs.conf)  default $PREFIX/etc/pbs.conf
#   OPENPBS_SOURCE  the source tarball (its sha256 must match SHA256SUMS)
#   BUILD_DIR     where the tree is unpacked and built          default /var/tmp/openpbs-kit-build
#   JOBS (make -j, default nproc); FORCE=1 rebuilds and replaces a $PREFIX it did not make;
#   EXTRA_PACKAGES  more Debian packages to install with the build deps (e.g. "openssh-server python3-distributed")
# Cached: $PREFIX/.openpbs-kit-stamp holds a hash of tarball + patches + configure settings; when it matches
# (and the Debian packages are there) this exits in seconds. `make install` goes to a staging dir first and only
# the $PREFIX part is copied, so nothing lands in /etc/profile.d or the systemd unit dir.
set -euo pipefail
KIT=$(cd "$(dirname "$0")" && pwd)
VERSION=23.06.06
PREFIX=${PREFIX:-/opt/pbs}; PREFIX=${PREFIX%/}
PBS_HOME_DIR=${PBS_HOME_DIR:-/var/spool/${PREFIX##*/}}; PBS_HOME_DIR=${PBS_HOME_DIR%/}   # /opt/pbs -> /var/spool/pbs
PBS_CONF=${PBS_CONF:-$PREFIX/etc/pbs.conf}
SOURCE=${OPENPBS_SOURCE:-$KIT/openpbs-$VERSION.tar.gz}
BUILD_DIR=${BUILD_DIR:-/var/tmp/openpbs-kit-build}
JOBS=${JOBS:-$(nproc)}
STAMP=$PREFIX/.openpbs-kit-stamp
# Debian's toolchain and python3 only (a pyenv/conda python3 may come first on PATH otherwise).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

T_ALL=$(date +%s.%N); T=$T_ALL
since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }
say() { echo "[build] $*"; }
done_step() { say "  ... $1: $(since "$T") s"; T=$(date +%s.%N); }
die() { echo "[build] ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"
case "$PREFIX$PBS_HOME_DIR" in *" "*) die "PREFIX/PBS_HOME_DIR must not contain spaces";; esac
case "$PREFIX" in ""|/|/usr|/usr/local|/opt|/var|/etc|/home|/root|/tmp|/var/tmp) die "refusing PREFIX=$PREFIX (a dir of its own, please)";; esac

# 1. Verify the source and the patches against SHA256SUMS.
[ -f "$SOURCE" ] || die "source tarball not found: $SOURCE"
want=$(awk -v f="openpbs-$VERSION.tar.gz" '$2 == f || $2 == "*" f {print $1}' "$KIT/SHA256SUMS")
have=$(sha256sum "$SOURCE" | cut -d' ' -f1)
[ -n "$want" ] && [ "$have" = "$want" ] || die "sha256 of $SOURCE is $have, SHA256SUMS says ${want:-nothing}"
(cd "$KIT" && grep ' patches/' SHA256SUMS | sha256sum --quiet -c -) || die "a patch does not match SHA256SUMS"
PATCHES=$(cd "$KIT" && ls patches/*.patch)
[ "$(echo "$PATCHES" | wc -l)" = "$(grep -c ' patches/' "$KIT/SHA256SUMS")" ] || die "patches/ and SHA256SUMS disagree"
CONF_ARGS="--prefix=$PREFIX --with-pbs-server-home=$PBS_HOME_DIR --with-pbs-conf-file=$PBS_CONF --with-python=/usr"
HASH=$( { echo "$have"; (cd "$KIT" && sha256sum $PATCHES); echo "$CONF_ARGS"; } | sha256sum | cut -c1-16)
say "source $SOURCE sha256 ok; patches ok; build id $HASH"
done_step "verify"

# 2. Debian packages (build + run time). No MTA: configure only records /usr/sbin/sendmail.
#    A policy-rc.d that exits 101 stops apt from starting services (postgresql, ssh) on the host.
DEPS="gcc g++ make autoconf automake libtool m4 pkg-config patch swig perl python3 python3-dev
      libx11-dev libxt-dev libxext-dev libxft-dev libedit-dev libical-dev libncurses-dev libexpat1-dev
      libssl-dev libhwloc-dev zlib1g-dev tcl-dev tk-dev postgresql postgresql-contrib postgresql-server-dev-all
      iproute2 util-linux procps passwd ${EXTRA_PACKAGES:-}"
installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' $DEPS 2>/dev/null || true)
missing=$(echo "$installed" | awk '$2 == "ii" {print $1}' | sort -u | comm -13 - <(printf '%s\n' $DEPS | sort -u) | tr '\n' ' ')
if [ -n "$missing" ]; then
  say "apt: installing $missing(log $BUILD_DIR/logs/apt.log)"
  mkdir -p "$BUILD_DIR/logs"
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  rc=0
  { apt-get update && apt-get install -y --no-install-recommends $DEPS; } >"$BUILD_DIR/logs/apt.log" 2>&1 || rc=$?
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ $rc = 0 ] || { tail -20 "$BUILD_DIR/logs/apt.log"; die "apt-get failed"; }
else
  say "apt: all $(echo $DEPS | wc -w) packages installed"
fi
done_step "deps"

# 3. Cached?
if [ "${FORCE:-0}" != 1 ] && [ -f "$STAMP" ] && [ "$(sed -n 's/^BUILD_ID=//p' "$STAMP")" = "$HASH" ] \
   && [ -x "$PREFIX/sbin/pbs_server.bin" ] && [ -u "$PREFIX/sbin/pbs_iff" ]; then
  say "$PREFIX already holds build $HASH: nothing to do"
  say "total: $(since "$T_ALL") s"; exit 0
fi

# $PREFIX is replaced as a whole: not while PBS runs from it, and not if something else lives there.
check_prefix() {
  local d exe
  for d in /proc/[0-9]*; do
    exe=$(readlink "$d/exe" 2>/dev/null || true)
    case "$exe" in "$PREFIX"/*) die "pid ${d#/proc/} runs $exe: stop PBS (stop.sh) before replacing $PREFIX";; esac
  done
  if [ -d "$PREFIX" ] && [ ! -f "$STAMP" ] && [ -n "$(ls -A "$PREFIX")" ] && [ "${FORCE:-0}" != 1 ]; then
    die "$PREFIX exists, is not empty and was not made by this kit (FORCE=1 replaces it)"
  fi
}
check_prefix

# 4. Unpack + patch (fresh tree per build id; the markers let an interrupted build resume).
WORK=$BUILD_DIR/$HASH; SRC=$WORK/openpbs-$VERSION; LOGS=$WORK/logs
mkdir -p "$WORK"
if [ ! -f "$WORK/.patched" ]; then
  rm -rf "$SRC" "$WORK"/.configured "$WORK"/.made; mkdir -p "$LOGS"
  tar -xzf "$SOURCE" -C "$WORK"
  for p in $PATCHES; do
    say "patch $p"
    patch -d "$SRC" -p1 --fuzz=0 --batch --no-backup-if-mismatch <"$KIT/$p" >>"$LOGS/patch.log" 2>&1 \
      || { tail -20 "$LOGS/patch.log"; die "patch $p failed"; }
  done
  touch "$WORK/.patched"
fi
done_step "unpack + patches"

cd "$SRC"
# 5. autogen + configure (--with-python=/usr: Debian's python3 for the embedded hook interpreter).
if [ ! -f "$WORK/.configured" ]; then
  say "autogen.sh (log $LOGS/autogen.log)"
  ./autogen.sh >"$LOGS/autogen.log" 2>&1 || { tail -20 "$LOGS/autogen.log"; die "autogen failed"; }
  done_step "autogen"
  say "configure $CONF_ARGS (log $LOGS/configure.log)"
  ./configure $CONF_ARGS >"$LOGS/configure.log" 2>&1 || { tail -20 "$LOGS/configure.log"; die "configure failed"; }
  touch "$WORK/.configured"
fi
done_step "configure"

# 6. Compile.
if [ ! -f "$WORK/.made" ]; then
  say "make -j$JOBS (log $LOGS/make.log)"
  make -j"$JOBS" >"$LOGS/make.log" 2>&1 || { tail -30 "$LOGS/make.log"; die "make failed"; }
  touch "$WORK/.made"
fi
done_step "make"

# 7. Install: stage, then move the $PREFIX part into place.
check_prefix
STAGE=$WORK/stage; rm -rf "$STAGE"
say "make install DESTDIR=$STAGE (log $LOGS/install.log)"
make install DESTDIR="$STAGE" >"$LOGS/install.log" 2>&1 || { tail -20 "$LOGS/install.log"; die "make install failed"; }
outside=$(cd "$STAGE" && find . -type f | sed 's|^\.||' | grep -v "^$PREFIX/" | tr '\n' ' ' || true)
[ -z "$outside" ] || say "not installed (outside $PREFIX): $outside"
rm -rf "$PREFIX.kit-new"; mkdir -p "$(dirname "$PREFIX")"
mv "$STAGE$PREFIX" "$PREFIX.kit-new"
# pbs_iff (authenticates client commands of non-root users) and pbs_rcp must be setuid root (INSTALL, step 12).
chmod 4755 "$PREFIX.kit-new/sbin/pbs_iff" "$PREFIX.kit-new/sbin/pbs_rcp"
{ echo "BUILD_ID=$HASH"; echo "VERSION=$VERSION"; echo "SOURCE_SHA256=$have"; echo "PATCHES=\"$(echo $PATCHES)\""
  echo "PREFIX=$PREFIX"; echo "PBS_HOME_DIR=$PBS_HOME_DIR"; echo "PBS_CONF=$PBS_CONF"
  echo "CONF_ARGS=\"$CONF_ARGS\""; echo "BUILT=\"$(date -u +%FT%TZ)\""; } >"$PREFIX.kit-new/.openpbs-kit-stamp"
rm -rf "$PREFIX"; mv "$PREFIX.kit-new" "$PREFIX"; rm -rf "$STAGE"
done_step "install"

"$PREFIX/bin/qstat" --version
say "installed $PREFIX (PBS_HOME default $PBS_HOME_DIR, pbs.conf $PBS_CONF); build tree kept in $WORK"
say "total: $(since "$T_ALL") s"
