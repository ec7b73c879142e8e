#!/bin/sh
# System libraries that the Python wheels need but do not ship:
#   libusb-1.0 (pyrealsense2 loads it even to play recordings)
set -e
if ldconfig -p | grep -q 'libusb-1\.0\.so\.0'; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
fi
echo "installing libusb-1.0-0 (needed by pyrealsense2) with apt-get"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libusb-1.0-0
