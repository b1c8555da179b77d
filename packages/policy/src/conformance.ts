export const placeholderSuite = true;
