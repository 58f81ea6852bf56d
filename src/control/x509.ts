export { x509 } from '../pki/x509.js';
