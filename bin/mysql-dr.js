#!/usr/bin/env node
"use strict";
const { main } = require("../dist/provider/src/cli/main.js");
main(process.argv.slice(2)).then((code) => process.exit(code));
