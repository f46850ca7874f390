// `exportkit activities`: not built yet (see the open issues).
import { UsageError } from "./io.mjs";

export const OPTIONS = {};
export const USAGE = "exportkit activities: not available yet";
export async function run() {
  throw new UsageError("the activities command is not available yet");
}
