// Which VMs a policy covers: any name glob OR any tag.
import { compileGlob } from "./glob.js";

/** The VM-selecting part of a policy. */
export interface VmSelector {
  /** Whole-name, case-sensitive globs (`*`, `?`, `[abc]`). */
  readonly vmGlobs: readonly string[];
  /** Exact, case-sensitive tags. */
  readonly vmTags: readonly string[];
}

/** What selection looks at in a VM. */
export interface SelectableVm {
  readonly name: string;
  readonly tags: readonly string[];
}

/**
 * Compiles `selector` once for testing many VMs. A VM matches when any glob
 * matches its name or it carries any of the tags; an empty selector matches
 * nothing. Throws FerryError INVALID_ARGUMENT for an invalid glob.
 */
export function compileVmSelector(selector: VmSelector): (vm: SelectableVm) => boolean {
  const globs = selector.vmGlobs.map(compileGlob);
  const tags = new Set(selector.vmTags);
  return (vm) => globs.some((g) => g(vm.name)) || vm.tags.some((t) => tags.has(t));
}

/** True when `vm` is covered by `selector`; see {@link compileVmSelector}. */
export function matchesPolicy(vm: SelectableVm, selector: VmSelector): boolean {
  return compileVmSelector(selector)(vm);
}

/** The VMs covered by `selector`, in their original order. */
export function selectVms<T extends SelectableVm>(vms: readonly T[], selector: VmSelector): T[] {
  return vms.filter(compileVmSelector(selector));
}
