#!/usr/bin/env node
// The exportkit command line. Exit codes: 0 success, 2 bad input, 1 a failed call.
import { main } from "../cli/main.mjs";

process.exitCode = await main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
