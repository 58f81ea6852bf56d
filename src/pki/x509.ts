// @peculiar/x509 ready to use: it needs the Reflect metadata API (tsyringe), so the
// reflect-metadata polyfill loads first, and its crypto provider is node's WebCrypto.
// Import x509 from here, never from the package directly.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
