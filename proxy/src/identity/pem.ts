/** PEM bundle splitting for identity material (not on the data path). */

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';

/** The certificates in a PEM bundle, in order, each normalised to `BEGIN…END` without surrounding whitespace. */
export function certificatesOf(bundle: string): string[] {
  const out: string[] = [];
  let at = bundle.indexOf(BEGIN);
  while (at !== -1) {
    const end = bundle.indexOf(END, at);
    if (end === -1) break;
    out.push(bundle.slice(at, end + END.length));
    at = bundle.indexOf(BEGIN, end);
  }
  return out;
}
