// The parts of the API contract (src/api) that the browser code needs, as a script that sets
// window.metapilotContract: served as /ui/contract.js and inlined in the HTML report before charts.js, so the UI
// never keeps its own copy of a list that the CRDs define (it had one of the root-cause categories, which went stale
// when a category was added).
import { ROOT_CAUSE_CATEGORIES } from "../../api/index.js";

export function contractScript(): string {
  const contract = { categories: [...ROOT_CAUSE_CATEGORIES] };
  return `window.metapilotContract = ${JSON.stringify(contract)};\n`;
}
