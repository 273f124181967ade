import { domainToASCII, domainToUnicode } from 'node:url';

/**
 * IDNA rules for DNS identifiers (RFC 8555 §7.1.4 wants names in the form they take in certificates:
 * RFC 5280 §7.2 and RFC 5891 — A-labels, never U-labels).
 */

/** Why a name written with U-labels (non-ASCII) is refused, naming the A-label form to send instead. */
export function uLabelProblem(name: string): string | undefined {
  if (isAscii(name)) return undefined;
  const wildcard = name.startsWith('*.');
  const ascii = domainToASCII(wildcard ? name.slice(2) : name);
  if (ascii === '') return 'the name contains non-ASCII characters and is not a valid IDN';
  return `the name contains U-labels (non-ASCII); send its A-label form "${wildcard ? '*.' : ''}${ascii}" (RFC 5891)`;
}

/** An `xn--` label must decode as Punycode to a valid U-label that encodes back to the same A-label. */
export function isValidALabel(label: string): boolean {
  const unicode = domainToUnicode(label);
  if (unicode === '' || unicode.startsWith('xn--') || isAscii(unicode)) return false;
  return domainToASCII(unicode) === label;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}
