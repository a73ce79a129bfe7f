/**
 * `--name=value` as [name, value], the value whole (a URI may hold `=`); `--name` as
 * [name, undefined].
 */
export function splitFlag(word: string): [string, string | undefined] {
  const body = word.slice(2);
  const at = body.indexOf("=");
  return at < 0 ? [body, undefined] : [body.slice(0, at), body.slice(at + 1)];
}
