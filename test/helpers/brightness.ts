import type { Page } from 'playwright-core';

/** A screenshot's mean brightness (0 black to 255 white), read back through the page's own canvas. */
export function meanBrightness(page: Page, png: Buffer): Promise<number> {
  return page.evaluate(async (data) => {
    const window = globalThis as any;
    const image = new window.Image();
    image.src = `data:image/png;base64,${data}`;
    await image.decode();
    const canvas = window.document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const g = canvas.getContext('2d');
    g.drawImage(image, 0, 0);
    const pixels = g.getImageData(0, 0, image.width, image.height).data;
    let sum = 0;
    for (let i = 0; i < pixels.length; i += 4) sum += (pixels[i] + pixels[i + 1] + pixels[i + 2]) / 3;
    return sum / (pixels.length / 4);
  }, png.toString('base64'));
}
