// What other processes compose (the single process, tests): the gateway's module and setup.
export { configureGateway, gatewayDefinition } from './gateway.definition';
export { consoleServed, GatewayModule } from './gateway.module';
