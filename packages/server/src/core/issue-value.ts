/**
 * The CAA issue-value syntax (RFC 8659 §4.2), shared by CAA `issue`/`issuewild` properties and by
 * dns-persist-01 validation records (draft-ietf-acme-dns-persist §4.1):
 *
 *   issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
 *   issuer-domain-name = label *("." label)
 *   label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))
 *   parameters = (parameter *WSP ";" *WSP parameters) / parameter
 *   parameter = tag *WSP "=" *WSP value
 *   tag = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))
 *   value = *(%x21-3A / %x3C-7E)
 */
export interface IssueValue {
  /** Lower-cased; undefined when the value names no issuer (";" alone forbids every CA). */
  issuer: string | undefined;
  /** Parameters in order; tags as written. */
  parameters: { tag: string; value: string }[];
}

const LABEL = '[A-Za-z0-9](?:-*[A-Za-z0-9])*';
const ISSUER = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const TAG = /^[A-Za-z0-9](?:-*[A-Za-z0-9])*$/;
const VALUE = /^[\x21-\x3a\x3c-\x7e]*$/;
const WSP = /^[ \t]*|[ \t]*$/g;

/** Parses an issue-value; undefined when it does not follow the grammar. */
export function parseIssueValue(text: string): IssueValue | undefined {
  const semi = text.indexOf(';');
  const head = (semi < 0 ? text : text.slice(0, semi)).replace(WSP, '');
  if (head !== '' && !ISSUER.test(head)) return undefined;
  const parameters: { tag: string; value: string }[] = [];
  if (semi >= 0) {
    const rest = text.slice(semi + 1).replace(WSP, '');
    if (rest !== '') {
      for (const part of rest.split(';')) {
        const eq = part.indexOf('=');
        if (eq < 0) return undefined;
        const tag = part.slice(0, eq).replace(WSP, '');
        const value = part.slice(eq + 1).replace(WSP, '');
        if (!TAG.test(tag) || !VALUE.test(value)) return undefined;
        parameters.push({ tag, value });
      }
    }
  }
  return { issuer: head === '' ? undefined : head.toLowerCase(), parameters };
}

/** The value of a parameter, tags compared case-insensitively; undefined when absent. */
export function parameter(v: IssueValue, tag: string): string | undefined {
  return v.parameters.find((p) => p.tag.toLowerCase() === tag)?.value;
}
