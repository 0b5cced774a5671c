/** Object identifiers we recognise in key files, so a wrong key can be named, not just refused. */

export const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
export const OID_P256 = '1.2.840.10045.3.1.7';

export const CURVE_NAMES: Readonly<Record<string, string>> = {
  [OID_P256]: 'prime256v1',
  '1.2.840.10045.3.1.1': 'prime192v1',
  '1.3.132.0.33': 'secp224r1',
  '1.3.132.0.34': 'secp384r1',
  '1.3.132.0.35': 'secp521r1',
  '1.3.132.0.10': 'secp256k1',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
  '1.3.36.3.3.2.8.1.1.11': 'brainpoolP384r1',
  '1.3.36.3.3.2.8.1.1.13': 'brainpoolP512r1',
  '1.2.156.10197.1.301': 'SM2',
};

/** Non-EC algorithms, phrased to follow "the key is ". */
export const ALGORITHM_NAMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.1': 'an RSA key',
  '1.2.840.113549.1.1.10': 'an RSA-PSS key',
  '1.2.840.10040.4.1': 'a DSA key',
  '1.3.101.110': 'an X25519 key',
  '1.3.101.111': 'an X448 key',
  '1.3.101.112': 'an Ed25519 key',
  '1.3.101.113': 'an Ed448 key',
};

/** Why a PEM block with this label is not a usable key (completed by what to do instead). */
export const FOREIGN_PEM_LABELS: Readonly<Record<string, string>> = {
  'RSA PRIVATE KEY': 'the key is an RSA key',
  'RSA PUBLIC KEY': 'the key is an RSA key',
  'DSA PRIVATE KEY': 'the key is a DSA key',
  'OPENSSH PRIVATE KEY': 'the key is in OpenSSH format',
  CERTIFICATE: 'the file holds a certificate, not a key',
  'CERTIFICATE REQUEST': 'the file holds a certificate request, not a key',
};
