"""The host half: toolchain and GPU report (doctor), runner checks and setup."""
