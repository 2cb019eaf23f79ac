// IBOK portal: small improvements only; every page works without this file.
"use strict";
