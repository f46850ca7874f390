// `exportkit userpilot`: not built yet (see the open issues).
import { UsageError } from "./io.mjs";

export const OPTIONS = {};
export const USAGE = "exportkit userpilot: not available yet";
export async function run() {
  throw new UsageError("the userpilot command is not available yet");
}
