// The package's root folder, for files that live beside the code rather than in it (the built
// widget, say). src/lib, dist/lib and the server bundle's dist/bundle all sit two levels below it.
export const PACKAGE_ROOT = new URL('../../', import.meta.url);
