/** WBXML 1.3 global tokens (WAP-192-WBXML section 7.1). EAS uses SWITCH_PAGE, END, STR_I, STR_T and OPAQUE. */
export const SWITCH_PAGE = 0x00;
export const END = 0x01;
export const ENTITY = 0x02;
export const STR_I = 0x03;
export const LITERAL = 0x04;
export const EXT_I_0 = 0x40;
export const EXT_I_1 = 0x41;
export const EXT_I_2 = 0x42;
export const PI = 0x43;
export const LITERAL_C = 0x44;
export const EXT_T_0 = 0x80;
export const EXT_T_1 = 0x81;
export const EXT_T_2 = 0x82;
export const STR_T = 0x83;
export const LITERAL_A = 0x84;
export const EXT_0 = 0xc0;
export const EXT_1 = 0xc1;
export const EXT_2 = 0xc2;
export const OPAQUE = 0xc3;
export const LITERAL_AC = 0xc4;

/** Bit set on a tag token when the element has content. */
export const TAG_HAS_CONTENT = 0x40;
/** Bit set on a tag token when the element has attributes; EAS never sends attributes. */
export const TAG_HAS_ATTRIBUTES = 0x80;
export const TAG_TOKEN_MASK = 0x3f;
/** Tag tokens are 0x05-0x3F; 0x00-0x04 in the low six bits are global tokens (WAP-192-WBXML 7.1). */
export const FIRST_TAG_TOKEN = 0x05;

/** WBXML version byte 0x03 is WBXML 1.3. */
export const WBXML_VERSION_1_3 = 0x03;
/** Public identifier 0x01: "unknown or missing", what EAS sends. */
export const PUBLIC_ID_UNKNOWN = 0x01;
/** IANA MIBenum of UTF-8. */
export const CHARSET_UTF8 = 106;

/** Names of the global tokens EAS never uses, for error messages. */
export const UNSUPPORTED_GLOBAL_TOKENS: ReadonlyMap<number, string> = new Map([
  [ENTITY, 'ENTITY'],
  [LITERAL, 'LITERAL'],
  [EXT_I_0, 'EXT_I_0'],
  [EXT_I_1, 'EXT_I_1'],
  [EXT_I_2, 'EXT_I_2'],
  [PI, 'PI'],
  [LITERAL_C, 'LITERAL_C'],
  [EXT_T_0, 'EXT_T_0'],
  [EXT_T_1, 'EXT_T_1'],
  [EXT_T_2, 'EXT_T_2'],
  [LITERAL_A, 'LITERAL_A'],
  [EXT_0, 'EXT_0'],
  [EXT_1, 'EXT_1'],
  [EXT_2, 'EXT_2'],
  [LITERAL_AC, 'LITERAL_AC'],
]);
