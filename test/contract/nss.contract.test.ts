import { keyStoreContract } from './key-store-contract.ts';

keyStoreContract('nss');
