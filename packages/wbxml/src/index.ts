export {
  CODE_PAGES,
  type CodePage,
  codePage,
  NAMESPACES,
  type Namespace,
  namespaceFromXml,
  PAGE_COUNT,
  PROTOCOL_VERSIONS,
  type ProtocolVersion,
  type TagInfo,
  type TagName,
  tagByName,
  tagByToken,
} from './codepages.js';
export { type DecodeOptions, decode, decodeDocument, type WbxmlDocument } from './decoder.js';
export { type EncodeOptions, encode } from './encoder.js';
export { isWbxmlError, WbxmlError, type WbxmlErrorCode } from './errors.js';
export { DEFAULT_LIMITS, type WbxmlLimits } from './limits.js';
export { type ContentArg, type EasBuilders, eas, element, type WbxmlContent, WbxmlElement } from './tree.js';
export { type FromXmlOptions, fromXml, OPAQUE_ATTRIBUTE, type ToXmlOptions, toXml } from './xml.js';
