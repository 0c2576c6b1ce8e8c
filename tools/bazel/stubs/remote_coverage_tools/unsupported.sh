#!/bin/sh
echo "bazel coverage is not supported in this offline build; run pytest with pytest-cov instead." >&2
exit 1
