// `exportkit forecasts`: not built yet (see the open issues).
import { UsageError } from "./io.mjs";

export const OPTIONS = {};
export const USAGE = "exportkit forecasts: not available yet";
export async function run() {
  throw new UsageError("the forecasts command is not available yet");
}
