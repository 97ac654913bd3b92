import { keyStoreContract } from './key-store-contract.ts';

// The software keystore on a real PostgreSQL cluster started for this run (initdb as the
// postgres user, loopback only), set up as `npm start -- --provider postgres` sets it up.
keyStoreContract('postgres');
