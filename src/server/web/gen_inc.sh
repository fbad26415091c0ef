#!/bin/sh
# Regenerates chat.html.inc (the page as a C++ raw string literal, compiled into herd) from chat.html.
# Run after editing chat.html; server_web_test checks that the two agree.
set -eu
cd "$(dirname "$0")"
{ printf 'R"HERD_PAGE('; cat chat.html; printf ')HERD_PAGE"\n'; } > chat.html.inc
