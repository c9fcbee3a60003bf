export { decodeValue, encodeValue } from './codec.js';
