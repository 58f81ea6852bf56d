// Label matching, one spelling for every place that asks "do these labels carry all of
// these key/value pairs" (workload selectors, subsets, sourceLabels, gateway selectors).

/** Every pair of `wanted` is in `labels`; an empty `wanted` matches any labels. */
export function labelsMatch(wanted: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const k in wanted) if (labels[k] !== wanted[k]) return false;
  return true;
}
