/**
 * A request refused at the HTTP layer, before any command runs: the status code and a short reason that is
 * safe to show the client. The adapter turns it into the response in one place.
 */
export class EasHttpError extends Error {
  override readonly name = 'EasHttpError';
  readonly httpStatus: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(httpStatus: number, reason: string, headers: Record<string, string> = {}) {
    super(reason);
    this.httpStatus = httpStatus;
    this.headers = headers;
  }
}
