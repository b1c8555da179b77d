import type { ClientOrigin, StoredBody } from './common.js';

/** A Contacts item (MS-ASCNTC): the Contacts and Contacts2 code pages. */
export interface ContactData {
  /** Set by Sync for items a device added; see {@link ClientOrigin}. */
  clientOrigin?: ClientOrigin;
  // Names
  firstName?: string;
  middleName?: string;
  lastName?: string;
  suffix?: string;
  title?: string;
  fileAs?: string;
  nickName?: string;
  yomiFirstName?: string;
  yomiLastName?: string;
  yomiCompanyName?: string;
  // Work
  companyName?: string;
  department?: string;
  jobTitle?: string;
  officeLocation?: string;
  assistantName?: string;
  managerName?: string;
  customerId?: string;
  governmentId?: string;
  accountName?: string;
  // Family and dates (dates are kept as UTC instants, as EAS sends them)
  spouse?: string;
  children?: string[];
  birthday?: Date;
  anniversary?: Date;
  // Internet
  email1Address?: string;
  email2Address?: string;
  email3Address?: string;
  webPage?: string;
  imAddress?: string;
  imAddress2?: string;
  imAddress3?: string;
  // Phones
  assistantPhoneNumber?: string;
  businessPhoneNumber?: string;
  business2PhoneNumber?: string;
  businessFaxNumber?: string;
  companyMainPhone?: string;
  carPhoneNumber?: string;
  homePhoneNumber?: string;
  home2PhoneNumber?: string;
  homeFaxNumber?: string;
  mobilePhoneNumber?: string;
  pagerNumber?: string;
  radioPhoneNumber?: string;
  /** `MMS`: the number used for multimedia messages. */
  mms?: string;
  // Addresses
  businessAddress?: PostalAddress;
  homeAddress?: PostalAddress;
  otherAddress?: PostalAddress;
  // Other
  categories?: string[];
  /** Decoded bytes of the contact photo (EAS carries it base64-encoded; Exchange limits it to 48 KB). */
  picture?: Uint8Array;
  body?: StoredBody;
  /** `Alias` and `WeightedRank` only occur in the Recipient Information Cache (folder type 19). */
  alias?: string;
  weightedRank?: number;
}

/** The five fields of a `BusinessAddress*`, `HomeAddress*` or `OtherAddress*` group. */
export interface PostalAddress {
  street?: string;
  city?: string;
  state?: string;
  postalCode?: string;
  country?: string;
}
