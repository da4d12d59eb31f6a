// What other processes compose (the single process, tests): the notifier's module and setup.
export { configureNotifier, notifierDefinition } from './notifier.definition';
export { NotifierModule } from './notifier.module';
