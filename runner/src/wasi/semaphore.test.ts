import { describe, expect, test } from 'bun:test'
import { Semaphore } from './semaphore.ts'

describe('semaphore', () => {
  test('bounds concurrency and hands permits over in order', async () => {
    const sem = new Semaphore(2)
    const order: number[] = []
    const a = await sem.acquire()
    const b = await sem.acquire()
    const c = sem.acquire().then((release) => {
      order.push(3)
      return release
    })
    order.push(1)
    a()
    ;(await c)()
    b()
    expect(order).toEqual([1, 3])
  })
})
