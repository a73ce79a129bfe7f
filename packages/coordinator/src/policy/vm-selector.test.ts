import { describe, expect, it } from "vitest";
import { compileVmSelector, matchesPolicy, selectVms } from "./vm-selector.js";

const vm = (name: string, ...tags: string[]) => ({ name, tags });

describe("matchesPolicy", () => {
  it("matches by any glob", () => {
    const selector = { vmGlobs: ["web-*", "db-0?"], vmTags: [] };
    expect(matchesPolicy(vm("web-1"), selector)).toBe(true);
    expect(matchesPolicy(vm("db-01"), selector)).toBe(true);
    expect(matchesPolicy(vm("db-001"), selector)).toBe(false);
    expect(matchesPolicy(vm("Web-1"), selector)).toBe(false);
  });

  it("matches by any tag, exactly and case-sensitively", () => {
    const selector = { vmGlobs: [], vmTags: ["prod", "gold"] };
    expect(matchesPolicy(vm("a", "dev", "gold"), selector)).toBe(true);
    expect(matchesPolicy(vm("a", "Prod"), selector)).toBe(false);
    expect(matchesPolicy(vm("a", "production"), selector)).toBe(false);
    expect(matchesPolicy(vm("a"), selector)).toBe(false);
  });

  it("matches when either a glob or a tag does", () => {
    const selector = { vmGlobs: ["web-*"], vmTags: ["prod"] };
    expect(matchesPolicy(vm("web-1"), selector)).toBe(true);
    expect(matchesPolicy(vm("db-1", "prod"), selector)).toBe(true);
    expect(matchesPolicy(vm("web-1", "prod"), selector)).toBe(true);
    expect(matchesPolicy(vm("db-1", "dev"), selector)).toBe(false);
  });

  it("matches nothing with an empty selector", () => {
    const empty = { vmGlobs: [], vmTags: [] };
    expect(matchesPolicy(vm("", ""), empty)).toBe(false);
    expect(matchesPolicy(vm("web-1", "prod"), empty)).toBe(false);
  });

  it("does not treat tags as globs", () => {
    expect(matchesPolicy(vm("x", "prod-1"), { vmGlobs: [], vmTags: ["prod-*"] })).toBe(false);
    expect(matchesPolicy(vm("x", "prod-*"), { vmGlobs: [], vmTags: ["prod-*"] })).toBe(true);
  });

  it("throws on an invalid glob", () => {
    expect(() => matchesPolicy(vm("x"), { vmGlobs: ["[x"], vmTags: [] })).toThrow(
      'glob "[x": unclosed "["',
    );
  });
});

describe("selectVms", () => {
  it("keeps the input order and the callers' own VM objects", () => {
    const vms = [
      { id: "3", name: "web-b", tags: [] },
      { id: "1", name: "db-1", tags: ["prod"] },
      { id: "2", name: "web-a", tags: [] },
      { id: "4", name: "test", tags: ["dev"] },
    ];
    const picked = selectVms(vms, { vmGlobs: ["web-*"], vmTags: ["prod"] });
    expect(picked.map((v) => v.id)).toEqual(["3", "1", "2"]);
    expect(picked[0]).toBe(vms[0]);
  });

  it("returns an empty list when nothing matches", () => {
    expect(selectVms([vm("a"), vm("b")], { vmGlobs: ["c*"], vmTags: [] })).toEqual([]);
    expect(selectVms([], { vmGlobs: ["*"], vmTags: [] })).toEqual([]);
  });

  it("compiles once and can be reused", () => {
    const matcher = compileVmSelector({ vmGlobs: ["a?"], vmTags: ["t"] });
    expect([vm("ab"), vm("abc"), vm("x", "t")].map(matcher)).toEqual([true, false, true]);
  });
});
