#!/usr/bin/env node
// The `berth` command: runs the TypeScript sources through tsx (the monorepo has no build step).
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
