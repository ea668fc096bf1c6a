/**
 * Every parser the kernel ib_ipoib adapter uses, pure functions over command output: the ipoib
 * sysfs files, `ip -j`, ethtool, the debugfs dumps and ping. Each throws ParseError naming the
 * command, where and what was expected; none returns half-parsed data.
 */
export * from './sysfs-parsers.js';
export * from './ip-json-parsers.js';
export * from './ethtool-parsers.js';
export * from './debugfs-parsers.js';
export * from './ping-parser.js';
