export { startStompServer, stompListener, stompUsersFromEnv, type StompServer, type StompServerOptions } from './listener.js';
export * from './codec/index.js';
export { StompBroker, type StompBrokerOptions } from './session/broker.js';
