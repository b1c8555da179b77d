import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { decode } from './decoder.js';
import { encode } from './encoder.js';
import { isWbxmlError } from './errors.js';
import type { WbxmlLimits } from './limits.js';
import { fromXml, toXmlBytes } from './xml.js';

/** Where the command line reads and writes; the real process streams in the bin, buffers in tests. */
export interface CommandLineIo {
  readStdin(): Promise<Uint8Array>;
  writeStdout(data: string | Uint8Array): void;
  writeStderr(text: string): void;
}

export const USAGE = `Usage: easkit-wbxml <command> [options] [FILE]

Commands:
  decode [FILE]   read an EAS WBXML document, write its XML to stdout
  encode [FILE]   read an XML document, write its WBXML to stdout
Without FILE, the input is read from stdin.

Options:
  --input <format>       decode: input is binary (default), hex (e.g. "03 01 6A 00 ...") or base64
  --output <format>      encode: output is binary (default), hex or base64
  --compact              decode: write the XML on one line
  --max-input-bytes <n>  refuse larger input (default 64 MiB)
  -h, --help             show this help
`;

type Format = 'binary' | 'hex' | 'base64';

/** Runs the CLI; resolves to the process exit code (0 ok, 1 bad input, 2 bad usage). */
export async function runCommandLine(argv: readonly string[], io: CommandLineIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.writeStderr(`easkit-wbxml: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.writeStdout(USAGE);
    return 0;
  }
  const [command, file, extra] = positionals;
  if ((command !== 'decode' && command !== 'encode') || extra !== undefined) {
    io.writeStderr(`easkit-wbxml: expected "decode [FILE]" or "encode [FILE]"\n\n${USAGE}`);
    return 2;
  }
  const inputFormat = values.input as Format;
  const outputFormat = values.output as Format;
  for (const format of [inputFormat, outputFormat]) {
    if (format !== 'binary' && format !== 'hex' && format !== 'base64') {
      io.writeStderr(`easkit-wbxml: unknown format "${format}" (binary, hex or base64)\n`);
      return 2;
    }
  }
  const limits: Partial<WbxmlLimits> = {};
  if (values['max-input-bytes'] !== undefined) {
    const max = Number(values['max-input-bytes']);
    if (!Number.isInteger(max) || max < 1) {
      io.writeStderr('easkit-wbxml: --max-input-bytes must be a positive integer\n');
      return 2;
    }
    Object.assign(limits, { maxInputBytes: max });
  }

  let input: Uint8Array;
  try {
    input = file === undefined || file === '-' ? await io.readStdin() : readFileSync(file);
  } catch (error) {
    io.writeStderr(`easkit-wbxml: cannot read ${file ?? 'stdin'}: ${(error as Error).message}\n`);
    return 1;
  }

  try {
    if (command === 'decode') {
      const bytes =
        inputFormat === 'binary' ? input : textToBytes(Buffer.from(input).toString('utf8'), inputFormat);
      // Written as UTF-8 bytes directly: for a large capture this avoids building the XML as a string.
      const xml = toXmlBytes(decode(bytes, limits), {
        indent: values.compact ? 0 : 2,
        declaration: true,
        // Indented XML of an EAS document runs to about 1.7 times its WBXML; start near that, grow if needed.
        initialCapacity: bytes.length * 2,
      });
      io.writeStdout(xml);
      io.writeStdout('\n');
    } else {
      const text = Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8');
      const bytes = encode(fromXml(text, limits));
      if (outputFormat === 'binary') io.writeStdout(bytes);
      else io.writeStdout(`${bytesToText(bytes, outputFormat)}\n`);
    }
    return 0;
  } catch (error) {
    if (isWbxmlError(error)) {
      io.writeStderr(`easkit-wbxml: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      input: { type: 'string', default: 'binary' },
      output: { type: 'string', default: 'binary' },
      compact: { type: 'boolean', default: false },
      'max-input-bytes': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

function textToBytes(text: string, format: 'hex' | 'base64'): Uint8Array {
  if (format === 'base64') return Buffer.from(text.replace(/\s+/g, ''), 'base64');
  const digits = text.replace(/0x|[\s,]+/gi, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) throw new Error('input is not hex');
  return Buffer.from(digits, 'hex');
}

function bytesToText(bytes: Uint8Array, format: 'hex' | 'base64'): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (format === 'base64') return buffer.toString('base64');
  return buffer
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ')
    .toUpperCase();
}
